"""seqkit plugin: the ``jordan`` cell (Jordan, 1986), whose output, not its hidden state, is fed back."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    from seqkit_jordan.cell import JordanCell

    register(seqkit.Spec("jordan", build=JordanCell, description="Jordan network: the previous output fed back"))
