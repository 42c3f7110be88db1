"""Kernels ``triton`` (persistent) and ``triton_step`` (a launch per step) for the gru cell, written in Triton."""

import seqkit
from seqkit import RegisterKernel


@seqkit.hookimpl
def register_kernels(register: RegisterKernel) -> None:
    register(
        seqkit.KernelSpec(
            cell="gru",
            name="triton",
            run="seqkit_triton.run:run_persistent",
            supports="seqkit_triton.support:supports",
            auto_skip="seqkit_triton.support:auto_skip",
            # above cudnn's 100, so the measured rule decides where it replaces cuDNN (see auto_rule.py)
            auto_rule="seqkit_triton.rule:rule",
            priority=110,
            description="Triton GRU, both formulations: one persistent launch per layer (per-step where it cannot fit)",
        )
    )
    register(
        seqkit.KernelSpec(
            cell="gru",
            name="triton_step",
            run="seqkit_triton.run:run_per_step",
            supports="seqkit_triton.support:supports",
            auto_skip="seqkit_triton.support:auto_skip",
            priority=80,
            description="Triton GRU, both formulations: one launch per time step",
        )
    )
