"""Kernels ``native`` (CPU) and ``cudnn`` (CUDA) for gru, lstm and rnn, on torch's fused RNN operators."""

import seqkit
from seqkit import RegisterKernel

CELLS = ("gru", "lstm", "rnn")


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    for cell in CELLS:
        register(
            seqkit.KernelSpec(
                cell=cell,
                name="cudnn",
                run=f"seqkit_native.fused:run_{cell}",
                supports=f"seqkit_native.fused:cudnn_{cell}",
                priority=100,
                description="cuDNN through torch's fused RNN operator (CUDA)",
            )
        )
        register(
            seqkit.KernelSpec(
                cell=cell,
                name="native",
                run=f"seqkit_native.fused:run_{cell}",
                supports=f"seqkit_native.fused:native_{cell}",
                priority=50,
                description="PyTorch's fused CPU RNN operator",
            )
        )
