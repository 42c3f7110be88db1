"""The cell contract: a cell declares its parameters and defines one time step; the runner does the rest."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from seqkit.errors import InvalidArgumentError, suggest
from seqkit.plugin.registry import Spec
from seqkit.rnn.initializers import default_role

if TYPE_CHECKING:
    from seqkit.export.spec import OnnxOp

Params = Mapping[str, Tensor]
State = tuple[Tensor, ...]


class Cell:
    """One time step of a recurrent cell, for one layer and direction: the math, and no parameters.

    The layer that runs a cell owns the parameters, named ``{name}_l{layer}`` (``_reverse`` for the
    second direction) after :meth:`parameter_shapes`, and passes them in as a mapping. The runner calls
    :meth:`project` once on the whole input sequence, then :meth:`step` per time step::

        u = cell.project(params, x)                  # (B, T, I) -> (B, T, P), one large GEMM
        h_t, state = cell.step(params, u[:, t], state)

    ``state`` is a tuple of ``len(cell.state_sizes)`` tensors ``(B, S_k)``, each component its own width ``S_k``
    (the same in every layer of a stack); ``h_t`` is ``(B, output_size)``, the layer's output and the next
    layer's input (``output_size`` is ``hidden_size`` unless the cell says otherwise). The runner starts from
    :meth:`init_state` unless the caller passes a state. A cell may declare :meth:`extra_input_sizes` and
    ``takes_position`` to receive extra per-step inputs (``step(..., *, extras)``) and its layer and direction.
    Subclasses set ``state_names`` when they carry more than ``h`` (LSTM: ``("h", "c")``), and
    ``torch_type`` when ``torch.nn`` has the same layer, so :func:`seqkit.from_torch` and
    ``layer.to_torch()`` can convert.
    """

    state_names: ClassVar[tuple[str, ...]] = ("h",)
    torch_type: ClassVar[type[nn.RNNBase] | None] = None
    # True when step() takes ``recurrent_mask=`` (B, S_0) and multiplies the h that enters its recurrent
    # matmuls by it (variational recurrent dropout, as Gal & Ghahramani and Keras apply it). A cell that
    # leaves it False gets the mask applied by the runner to ``state[0]`` as passed into step().
    takes_recurrent_mask: ClassVar[bool] = False
    # True when step() takes ``layer=`` (0 = the first layer of the stack) and ``direction=`` (0 forward, 1 reverse).
    takes_position: ClassVar[bool] = False
    # True when the gates are laid out as torch.nn.LSTM's (i, f, g, o blocks of bias_ih/bias_hh): forget_bias applies.
    lstm_gates: ClassVar[bool] = False
    # Options worth a row of their own in `seqkit bench cells`, besides the defaults (a second formulation).
    bench_variants: ClassVar[tuple[dict[str, Any], ...]] = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        self.input_size = input_size
        self.hidden_size = hidden_size

    # --- what subclasses define -------------------------------------------------------------------

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of each parameter of one layer and direction (torch.nn's names where they exist)."""
        raise NotImplementedError

    def step(self, params: Params, u_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step: ``u_t`` ``(B, P)`` (this step's slice of :meth:`project`) and ``state`` -> ``(h_t, state)``.

        A cell with ``takes_recurrent_mask = True`` also accepts ``recurrent_mask=`` (None, or ``(B, S_0)``).
        """
        raise NotImplementedError

    def project(self, params: Params, x: Tensor) -> Tensor:
        """The part of the step that depends on the input alone, for all steps at once: ``(..., I) -> (..., P)``.

        The default passes the input through; cells with an input matrix apply it here.
        """
        return x

    def parameter_roles(self) -> dict[str, str]:
        """Each parameter's role for initialisers and L2 penalties: ``input`` (``kernel_init``, ``kernel_l2``),
        ``recurrent`` and ``vector`` (a 1-D recurrent weight; ``recurrent_init``, ``recurrent_l2``), ``bias``
        (``bias_init``) or ``other`` (left alone). By default from the names, as torch.nn's: ``weight_ih…`` input,
        ``weight_hh…`` recurrent (vector when 1-D), ``bias…`` bias; see :mod:`seqkit.rnn.initializers`."""
        return {name: default_role(name, tuple(shape)) for name, shape in self.parameter_shapes().items()}

    def extra_input_sizes(self) -> dict[str, int]:
        """Extra per-step inputs this cell's step takes besides ``u_t``: name -> feature size (default: none).

        A cell that declares some is run as ``layer(x, lengths, extras={name: (B, T, F)})``; its step then gets
        ``extras={name: (B, F)}``, the same time step of the same sequence as ``u_t`` in every layer and in both
        directions (the reverse direction sees them reversed within each sequence's length, as it sees ``x``).
        """
        return {}

    @property
    def options(self) -> dict[str, Any]:
        """The options this cell was built with (``create_rnn``'s ``**cell_options``)."""
        return {}

    def recurrent_parameters(self) -> tuple[str, ...]:
        """The names of the matrices that multiply the previous state (``weight_drop`` masks these).

        By default every parameter whose name starts with ``weight_hh``, as torch.nn names them.
        """
        return tuple(name for name in self.parameter_shapes() if name.startswith("weight_hh"))

    # --- defaults subclasses may override -----------------------------------------------------------

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The width of each state component; by default every component is ``hidden_size`` wide."""
        return (self.hidden_size,) * len(self.state_names)

    @property
    def output_size(self) -> int:
        """The width of ``h_t``, what :meth:`step` returns: the layer's output per direction and, times the number of
        directions, the next layer's input. By default ``hidden_size``; a cell whose output is not its state (a
        projection, a readout of several components) says so here."""
        return self.hidden_size

    def reset_parameters(self, params: Params) -> None:
        """Initialise in place; by default U(-1/√H, 1/√H) for every parameter, as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        with torch.no_grad():
            for p in params.values():
                p.uniform_(-bound, bound)

    def init_state(
        self, batch_size: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """The zero state: one ``(B, S_k)`` tensor per state component."""
        return tuple(torch.zeros(batch_size, s, device=device, dtype=dtype) for s in self.state_sizes)

    def torch_options(self) -> dict[str, Any]:
        """Keyword arguments that make ``torch_type`` compute the same layer; raise where it cannot."""
        raise InvalidArgumentError(f"torch.nn has no layer equivalent to {self!r}")

    def keras_options(self) -> dict[str, Any]:
        """Keyword arguments of the Keras layer (``torch_type``'s counterpart) equal to this cell's layer, besides
        ``units``: ``use_bias`` and what else sets its formulation; by default from :meth:`torch_options`."""
        return {"use_bias": bool(self.torch_options().get("bias", True))}

    @classmethod
    def options_from_keras(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The cell options that match a Keras layer's ``get_config()``; by default its ``use_bias``."""
        return {"bias": bool(config.get("use_bias", True))}

    @classmethod
    def options_from_torch(cls, module: nn.RNNBase) -> dict[str, Any]:
        """The cell options that match a ``torch_type`` module (``bias``, ``nonlinearity``, ...)."""
        return {}

    def onnx_op(self) -> OnnxOp | None:
        """The ONNX operator computing this cell's layer (``seqkit export``), or None: ONNX has none."""
        return None

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{opts})"


def torch_style_shapes(cell: Cell, gates: int, *, bias: bool = True) -> dict[str, tuple[int, ...]]:
    """Parameter shapes named and laid out as torch.nn's recurrent layers: *gates* blocks of H rows each.

    ``weight_ih`` ``(gates*H, I)``, ``weight_hh`` ``(gates*H, H)`` and, with *bias*, ``bias_ih``/``bias_hh``.
    """
    rows = gates * cell.hidden_size
    shapes = {"weight_ih": (rows, cell.input_size), "weight_hh": (rows, cell.hidden_size)}
    if bias:
        shapes.update(bias_ih=(rows,), bias_hh=(rows,))
    return shapes


def build_cell(spec: Spec, input_size: int, hidden_size: int, options: Mapping[str, Any]) -> Cell:
    """Build *spec*'s cell, checking *options* against its builder's signature first."""
    accepted = _keyword_options(spec.build)
    if accepted is not None:
        for key in options:
            if key not in accepted:
                raise InvalidArgumentError(
                    f"cell '{spec.name}' has no option {key!r}{suggest(key, accepted) or '.'} "
                    f"Its options: {', '.join(sorted(accepted)) or 'none'}."
                )
    cell = spec.build(input_size, hidden_size, **options)
    if not isinstance(cell, Cell):
        raise InvalidArgumentError(
            f"cell '{spec.name}' from {spec.provenance} built {type(cell).__name__}, not a seqkit.Cell"
        )
    return cell


def _keyword_options(build: Any) -> set[str] | None:
    """The option names *build* accepts after (input_size, hidden_size); None when it takes ``**kwargs``."""
    params = list(inspect.signature(build).parameters.values())[2:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def check_bool(cell: str, option: str, value: object) -> bool:
    """*value*, or an error naming the cell option when it is not a bool."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"cell '{cell}' option {option!r} must be true or false, got {value!r}")
    return value
