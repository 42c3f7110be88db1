"""Kernel ``onednn`` (CPU) for gru, both formulations, on oneDNN's fused GRU primitives (the ``onednn`` extra)."""

import seqkit
from seqkit import RegisterKernel


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    register(
        seqkit.KernelSpec(
            cell="gru",
            name="onednn",
            run="seqkit_onednn.kernel:run",
            supports="seqkit_onednn.support:supports",
            priority=60,
            description="oneDNN's fused GRU primitives (lbr_gru, gru) on CPU; needs the 'onednn' extra",
        )
    )
