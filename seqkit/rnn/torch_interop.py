"""``to_torch``: the torch.nn module equal to a seqkit layer, and the weight copy both directions use.

Below :mod:`seqkit.rnn.recurrent` (whose ``to_torch`` method calls it); ``from_torch``, which builds a layer, is in
:mod:`seqkit.rnn.layers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from torch import nn

from seqkit.errors import InvalidArgumentError

if TYPE_CHECKING:
    from seqkit.rnn.recurrent import Recurrent


def to_torch(layer: Recurrent) -> nn.RNNBase:
    """The batch-first ``torch.nn`` module equal to *layer* (frozen weights too), where torch.nn can express it."""
    cell = layer.cell
    if cell.torch_type is None:
        raise InvalidArgumentError(f"torch.nn has no layer equivalent to cell '{layer.kind}'")
    module = cell.torch_type(
        layer.input_size,
        layer.hidden_size,
        num_layers=layer.num_layers,
        bidirectional=layer.bidirectional,
        dropout=layer.dropout,
        batch_first=True,
        **cell.torch_options(),
    )
    return copy_weights(layer, module)


M = TypeVar("M", bound=nn.Module)


def copy_weights(source: nn.Module, target: M) -> M:
    """*target* with *source*'s weights, device, dtype, frozen weights and train/eval mode."""
    reference = next(source.parameters())
    target.to(device=reference.device, dtype=reference.dtype)
    target.load_state_dict(source.state_dict())
    for name, parameter in source.named_parameters():
        target.get_parameter(name).requires_grad_(parameter.requires_grad)
    target.train(source.training)
    return target
