"""The ``lstm`` cell: long short-term memory, torch.nn.LSTM's formulation and layout."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    register(
        seqkit.Spec(
            "lstm", build="seqkit_lstm.cell:LSTMCell", description="long short-term memory (Hochreiter & Schmidhuber)"
        )
    )
