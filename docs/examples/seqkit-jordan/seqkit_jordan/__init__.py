"""seqkit plugin: the ``jordan`` cell (Jordan, 1986), whose output, not its hidden state, is fed back."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    # named, not imported: the cell's module (and torch) loads when a jordan layer is first built
    register(
        seqkit.Spec(
            "jordan",
            build="seqkit_jordan.cell:JordanCell",
            description="Jordan network: the previous output fed back",
        )
    )
