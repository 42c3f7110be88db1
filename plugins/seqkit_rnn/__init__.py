"""The ``rnn`` cell: Elman's simple recurrent network, with tanh or ReLU."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    register(
        seqkit.Spec("rnn", build="seqkit_rnn.cell:ElmanCell", description="Elman network; nonlinearity tanh or relu")
    )
