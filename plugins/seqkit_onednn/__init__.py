"""Kernel ``onednn`` (CPU) for gru, both formulations, on oneDNN's fused GRU primitives (the ``onednn`` extra)."""

import seqkit
from seqkit import RegisterKernel


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    from seqkit_onednn import kernel, support

    register(
        seqkit.KernelSpec(
            cell="gru",
            name="onednn",
            run=kernel.run,
            supports=support.supports,
            priority=support.PRIORITY,
            description="oneDNN's fused GRU primitives (lbr_gru, gru) on CPU; needs the 'onednn' extra",
        )
    )
