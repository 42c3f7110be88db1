"""Kernels ``native`` (CPU) and ``cudnn`` (CUDA) for gru, lstm and rnn, on torch's fused RNN operators."""

import seqkit
from seqkit import RegisterKernel

CELLS = ("gru", "lstm", "rnn")


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    from seqkit_native import fused

    for cell in CELLS:
        register(
            seqkit.KernelSpec(
                cell=cell,
                name="cudnn",
                run=fused.runner(cell),
                supports=fused.supports_cudnn(cell),
                priority=100,
                description="cuDNN through torch's fused RNN operator (CUDA)",
            )
        )
        register(
            seqkit.KernelSpec(
                cell=cell,
                name="native",
                run=fused.runner(cell),
                supports=fused.supports_native(cell),
                priority=50,
                description="PyTorch's fused CPU RNN operator",
            )
        )
