"""The generic runner: turns a cell into a layer stack with directions, dropout, lengths and state."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit.errors import InvalidArgumentError, KernelUnavailableError
from seqkit.plugin.lazy import resolved
from seqkit.plugin.registry import KernelSpec, ShapeBucket
from seqkit.rnn import kernels
from seqkit.rnn.binding import KernelBound
from seqkit.rnn.cell import Cell, State
from seqkit.rnn.checks import (
    LayerState,
    check_input,
    check_layer_inputs,
    check_state_widths,
    pack_state,
    unpack_state,
)
from seqkit.rnn.context import ContextCell, extra_columns, run_with_context, takes_context
from seqkit.rnn.initializers import InitOptions, apply_initializers, l2_penalty, parameter_roles
from seqkit.rnn.keras_layout import to_keras
from seqkit.rnn.lengths import normalize_lengths, zero_past_end
from seqkit.rnn.regularizers import Regularizers, drop_weights, recurrent_mask, regularized_step, run_regularized
from seqkit.rnn.tbptt import check_steps, layer_runner
from seqkit.rnn.torch_interop import to_torch


class Recurrent(KernelBound):
    """A stack of recurrent layers built from one cell kind; batch-first, torch.nn-compatible weights.

    ``forward(x, lengths=None, state=None) -> (output, state)``:
      - ``x``: ``(B, T, I)``; ``lengths``: ``(B,)`` integers in ``[0, T]`` or None (all T);
      - ``output``: ``(B, T, D*O)`` from the last layer, zero past each sequence's end (``O``:
        :attr:`output_size`, ``hidden_size`` unless the cell declares another);
      - ``state``: ``(L*D, B, H)`` like torch.nn (a tuple such as LSTM's ``(h, c)`` when the cell has
        several state components), the state at each sequence's last real step.

    ``tbptt_steps``: when set, training runs (train mode, grad enabled) cut each layer's gradient every that
    many steps in each direction's scan order, carrying the state forward detached (see :mod:`seqkit.rnn.tbptt`);
    forward values are unchanged.

    Parameters are named as torch.nn names them (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...).
    ``backend`` is the kernel that ran last (``backend_reason`` says why it was chosen).
    ``regularize`` (zoneout, recurrent_dropout, weight_drop; see :mod:`seqkit.rnn.regularizers`) acts in training
    only; zoneout and recurrent_dropout then run the generic kernel's step loop, whatever kernel eval mode chooses.
    """

    def __init__(
        self,
        kind: str,
        cells: list[Cell],
        kernel_options: list[KernelSpec],
        *,
        bidirectional: bool = False,
        dropout: float = 0.0,
        backend: str = kernels.AUTO,
        init: InitOptions | None = None,
        regularize: Regularizers | None = None,
        tbptt_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.tbptt_steps = tbptt_steps
        self.kind = kind
        self.init_options = init or InitOptions()
        self.regularizers = regularize or Regularizers()
        self.cells = cells
        self.num_layers = len(cells)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.input_size = cells[0].input_size
        self.hidden_size = cells[0].hidden_size
        self.requested_backend = backend
        check_state_widths(kind, cells)
        check_layer_inputs(kind, cells, self.num_directions)
        for cell in cells:  # a bad role is a build error, not a surprise when an initialiser is first asked for
            parameter_roles(kind, cell)
        for layer, cell in enumerate(cells):
            for direction in range(self.num_directions):
                for name, shape in cell.parameter_shapes().items():
                    self.register_parameter(self._param_name(name, layer, direction), nn.Parameter(torch.empty(shape)))
        self.reset_parameters()
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(
                "dropout applies between layers, so it has no effect with num_layers=1", UserWarning, stacklevel=3
            )
        self._bind_kernels(kernel_options)
        if self.regularizers.per_step and backend not in (kernels.AUTO, kernels.GENERIC.name, kernels.REFERENCE.name):
            # a fused kernel has no per-step hook for the masks: refuse rather than train without them
            names = self.regularizers.names(per_step=True)
            raise KernelUnavailableError(
                f"backend '{backend}' cannot apply {' and '.join(names)} in training: "
                f"{'it needs' if len(names) == 1 else 'they need'} per-step masks, which only the step loop "
                "draws; use backend 'auto' (the generic kernel's loop in training, the best kernel in eval), "
                "'generic' or 'reference'"
            )

    @staticmethod
    def _param_name(name: str, layer: int, direction: int) -> str:
        return f"{name}_l{layer}" + ("_reverse" if direction else "")

    @property
    def tbptt_steps(self) -> int | None:
        """Time steps per truncated-BPTT chunk while training, or None for full backpropagation through time."""
        return self.__dict__.get("_tbptt_steps")  # layers pickled before the option existed have none

    @tbptt_steps.setter
    def tbptt_steps(self, value: int | None) -> None:
        self.__dict__["_tbptt_steps"] = check_steps(value)

    @property
    def output_size(self) -> int:
        """The width of each direction's output (the last layer's cell's ``output_size``): ``forward`` returns
        ``num_directions * output_size`` features per step. ``hidden_size`` unless the cell declares another."""
        return self.cells[-1].output_size

    @property
    def cell(self) -> Cell:
        """The first layer's cell (its options are every layer's options)."""
        return self.cells[0]

    @property
    def cell_options(self) -> dict[str, Any]:
        return self.cells[0].options

    @property
    def backend(self) -> str:
        """The name of the kernel chosen for the last run (or for the layer's device, before any run)."""
        return self._last.kernel.name

    @property
    def backend_reason(self) -> str:
        """Why that kernel: the explicit request, or auto's choice and each better kernel's reason not to."""
        return self._last.reason

    def weights(self, layer: int, direction: int) -> dict[str, Tensor]:
        """The parameters of one layer and direction, under the cell's own names (``weight_ih``, ...)."""
        names = self.cells[layer].parameter_shapes()
        return {n: getattr(self, self._param_name(n, layer, direction)) for n in names}

    def reset_parameters(self) -> None:
        for layer, cell in enumerate(self.cells):
            for direction in range(self.num_directions):
                cell.reset_parameters(self.weights(layer, direction))
                if self.init_options.changes_weights:
                    roles = parameter_roles(self.kind, cell)
                    apply_initializers(self.weights(layer, direction), cell.hidden_size, self.init_options, roles)

    def penalty(self) -> Tensor | None:
        """The L2 penalty on the input and recurrent matrices (``kernel_l2``, ``recurrent_l2``), or None."""
        if not self.init_options.penalised:
            return None
        total: Tensor | None = None
        for layer, cell in enumerate(self.cells):
            roles = parameter_roles(self.kind, cell)
            for direction in range(self.num_directions):
                term = l2_penalty(self.weights(layer, direction), self.init_options, roles)
                if term is not None:
                    total = term if total is None else total + term
        return total

    # --- running ----------------------------------------------------------------------------------------

    def init_state(self, batch_size: int) -> LayerState:
        """Each layer's cell's :meth:`Cell.init_state` in torch.nn's layout, on the layer's device and dtype."""
        p = next(iter(self.parameters()), None)
        device, dtype = (p.device, p.dtype) if p is not None else (None, None)
        return pack_state(self._initial(batch_size, device, dtype))

    def _initial(self, batch: int, device: torch.device | None, dtype: torch.dtype | None) -> State:
        """``(L*D, B, S_k)`` per state component, from every layer's cell (each direction its own call)."""
        rows = [
            cell.init_state(batch, device=device, dtype=dtype)
            for cell in self.cells
            for _ in range(self.num_directions)
        ]
        return tuple(torch.stack(parts, 0) for parts in zip(*rows))

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: LayerState | None = None,
        *,
        extras: Mapping[str, Tensor] | None = None,
    ) -> tuple[Tensor, LayerState]:
        """See the class docstring; *extras*: ``{name: (B, T, F)}`` for a cell declaring extra per-step inputs."""
        check_input(self, x, 3, "(batch, time, {})")
        batch, steps = x.shape[0], x.shape[1]
        lengths = normalize_lengths(lengths, batch, steps, x.device)
        extra = extra_columns(self.cell, extras, (batch, steps), x)
        states = unpack_state(self, state, batch, x)
        if steps == 0:  # nothing to run: no outputs, and every sequence keeps its initial state
            return x.new_zeros(batch, 0, self.num_directions * self.output_size), pack_state(states)
        if lengths is not None:  # padding never reaches a kernel, so NaN or inf there cannot leak into gradients
            x = zero_past_end(x, lengths)
            extra = None if extra is None else zero_past_end(extra, lengths)
        choice = self._choose(x.device, x.dtype, ShapeBucket.of(batch, steps))
        regs = self.regularizers
        kernel_run = choice.kernel.run
        if takes_context(self.cell) and choice.kernel.name not in (kernels.GENERIC.name, kernels.REFERENCE.name):
            # only the step loops call step() with extra inputs and position; a fused kernel knows neither
            self._last = kernels.Choice(
                kernels.GENERIC,
                f"the cell takes extra inputs or its position, so the generic kernel runs (not {choice.kernel.name!r})",
            )
            kernel_run = resolved(kernels.GENERIC.run)
        if self.training and regs.per_step:  # only a step loop draws per-step masks; eval keeps the kernel above
            names = regs.names(per_step=True)
            traced = self.requested_backend != kernels.REFERENCE.name  # 'reference' runs the step as written
            self._last = kernels.Choice(
                kernels.GENERIC if traced else kernels.REFERENCE,
                f"{' and '.join(names)} need{'s' if len(names) == 1 else ''} per-step masks in training, so the "
                f"{'generic kernel' if traced else 'reference step loop'} runs (in eval: {choice.kernel.name!r}, "
                f"{choice.reason})",
            )

            def kernel_run(cell, weights, inputs, lengths, state):  # type: ignore[no-untyped-def]
                return run_regularized(cell, weights, inputs, lengths, state, regs, traced=traced)

        run = layer_runner(kernel_run, self.tbptt_steps, self.training)
        inputs, finals = x, []
        per = self.num_directions
        for layer, cell in enumerate(self.cells):
            if layer > 0 and self.dropout > 0:
                inputs = F.dropout(inputs, self.dropout, self.training)
            weights = [self.weights(layer, d) for d in range(per)]
            if self.training and regs.weight_drop > 0:
                weights = [drop_weights(cell, w, regs.weight_drop) for w in weights]
            layer_state = tuple(s[layer * per : (layer + 1) * per] for s in states)
            if takes_context(cell):
                inputs, final = run_with_context(
                    run, self.cells[layer], layer, weights, inputs, extra, lengths, layer_state
                )
            else:
                inputs, final = run(cell, weights, inputs, lengths, layer_state)
            finals.append(final)
        stacked = tuple(torch.cat(parts, 0) for parts in zip(*finals))
        return inputs, pack_state(stacked)

    def step(
        self, x_t: Tensor, state: LayerState | None = None, *, extras: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, LayerState]:
        """One time step through every layer, for autoregressive decoding: ``(B, I)`` -> ``(B, H)``, state.

        In training, regularisers draw fresh masks at every call: zoneout as in the whole sequence, but
        ``weight_drop`` and ``recurrent_dropout`` per step (a step does not know where its sequence began).
        """
        if self.bidirectional:
            raise InvalidArgumentError("step() needs a unidirectional layer: a bidirectional one reads the future")
        check_input(self, x_t, 2, "(batch, {})", what="step input")
        extra = extra_columns(self.cell, extras, (x_t.shape[0],), x_t)
        states = unpack_state(self, state, x_t.shape[0], x_t)
        inputs, finals = x_t, []
        for layer, cell in enumerate(self.cells):
            if layer > 0 and self.dropout > 0:
                inputs = F.dropout(inputs, self.dropout, self.training)
            if takes_context(cell):
                cell = ContextCell(cell, layer, 0)
                inputs = inputs if extra is None else torch.cat([inputs, extra], -1)
            params, previous = self.weights(layer, 0), tuple(s[layer] for s in states)
            if self.training and self.regularizers.active:
                regs = self.regularizers
                params = drop_weights(cell, params, regs.weight_drop)
                mask = recurrent_mask(cell, x_t.shape[0], regs.recurrent_dropout, inputs)
                inputs, new = regularized_step(cell, params, cell.project(params, inputs), previous, mask, regs.zoneout)
            else:
                inputs, new = cell.step(params, cell.project(params, inputs), previous)
            finals.append(new)
        stacked = tuple(torch.stack(parts, 0) for parts in zip(*finals))
        return inputs, pack_state(stacked)

    def extra_repr(self) -> str:
        text = f"{self.kind}: {self.cell!r}, num_layers={self.num_layers}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        for name in self.regularizers.names():
            text += f", {name}={getattr(self.regularizers, name)}"
        return text + f", backend={self.requested_backend!r}"

    def to_torch(self) -> nn.RNNBase:
        """The batch-first ``torch.nn`` module with this layer's weights (GRU/LSTM/RNN where expressible)."""
        return to_torch(self)

    def to_keras(self) -> Any:
        """The Keras 3 layer (``GRU``/``LSTM``/``SimpleRNN``, ``Bidirectional`` when two-way) with these weights."""
        return to_keras(self)
