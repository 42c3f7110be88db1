"""Kernels ``triton`` (persistent) and ``triton_step`` (a launch per step) for the gru cell, written in Triton."""

import seqkit
from seqkit import RegisterKernel


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    from seqkit_triton.run import runner
    from seqkit_triton.support import auto_skip, supports

    register(
        seqkit.KernelSpec(
            cell="gru",
            name="triton",
            run=runner(persistent=True),
            supports=supports,
            auto_skip=auto_skip,
            priority=90,
            description="Triton GRU, both formulations: one persistent launch per layer (per-step where it cannot fit)",
        )
    )
    register(
        seqkit.KernelSpec(
            cell="gru",
            name="triton_step",
            run=runner(persistent=False),
            supports=supports,
            auto_skip=auto_skip,
            priority=80,
            description="Triton GRU, both formulations: one launch per time step",
        )
    )
