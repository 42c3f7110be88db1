"""Kernels ``triton`` (persistent) and ``triton_step`` (a launch per step) for the gru cell, written in Triton."""

import seqkit
from seqkit import RegisterKernel


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    from seqkit_triton.auto_rule import make_rule
    from seqkit_triton.measured import MEASURED
    from seqkit_triton.run import runner
    from seqkit_triton.support import auto_skip, supports

    register(
        seqkit.KernelSpec(
            cell="gru",
            name="triton",
            run=runner(persistent=True),
            supports=supports,
            auto_skip=auto_skip,
            # above cudnn's 100, so the measured rule decides where it replaces cuDNN (see auto_rule.py)
            auto_rule=make_rule(MEASURED),
            priority=110,
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
