"""The ``ln_gru`` and ``ln_lstm`` cells: layer-normalised GRU and LSTM (Ba, Kiros & Hinton, 2016)."""

import seqkit
from seqkit import RegisterCell


@seqkit.hookimpl
def register_cells(register: RegisterCell) -> None:
    register(
        seqkit.Spec(
            "ln_gru",
            build="seqkit_layernorm.cells:LayerNormGRUCell",
            description="layer-normalised GRU (Ba et al., 2016), reset gate after the recurrent matmul",
        )
    )
    register(
        seqkit.Spec(
            "ln_lstm",
            build="seqkit_layernorm.cells:LayerNormLSTMCell",
            description="layer-normalised LSTM (Ba et al., 2016)",
        )
    )
