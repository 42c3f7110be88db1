"""The ``gru`` cell: gated recurrent unit, in both published formulations (``reset_after: true|false``)."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    register(
        seqkit.Spec(
            "gru",
            build="seqkit_gru.cell:GRUCell",
            description="gated recurrent unit (Cho et al., 2014); reset_after=true is cuDNN's/PyTorch's form",
        )
    )
