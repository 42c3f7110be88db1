"""The Triton GRU kernels compile for a GPU (sm_90) on a machine without one: what the interpreter cannot check."""

from __future__ import annotations

import itertools

import pytest

triton = pytest.importorskip("triton")

# pointer arguments: their element type (fp32 scratch unless named here); every other argument is an i32 scalar
POINTERS = {"u", "y", "dy", "w", "b", "hs", "gates", "scratch", "dA", "carry", "lens", "counter", "error"}
INT32 = {"lens", "counter", "error"}
IN_DTYPE = {"u", "y", "dy", "w", "b"}


def _compile(kernel_name, persistent, reset_after, dtype):
    from seqkit_triton.loader import device_code
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernel = getattr(device_code(False), kernel_name)
    constants = dict(PERSISTENT=persistent, PHASE=0, RESET_AFTER=reset_after, IEEE=dtype == "fp32")
    constants.update(MAX_SPIN=1 << 22, BB=16, BH=32, HP=256)
    constants.update(dict(HAS_BIAS=True, STORE=True) if kernel_name == "fwd_kernel" else dict(FINISH=False))
    signature = {}
    for name in kernel.arg_names:
        if name in constants:
            signature[name] = "constexpr"
        elif name in POINTERS:
            signature[name] = "*i32" if name in INT32 else f"*{dtype}" if name in IN_DTYPE else "*fp32"
        else:
            signature[name] = "i32"
    options = dict(num_warps=8 if persistent else 4)
    return triton.compile(ASTSource(kernel, signature, constants), target=GPUTarget("cuda", 90, 32), options=options)


def test_the_persistent_barrier_compiles_to_release_and_acquire():
    ptx = _compile("fwd_kernel", True, False, "bf16").asm["ptx"]
    assert "red.global.gpu.release.add" in ptx
    assert "ld.global.gpu.acquire" in ptx


def test_the_per_step_backward_compiles():
    assert _compile("bwd_kernel", False, True, "fp32").asm["ptx"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kernel_name,persistent,reset_after,dtype",
    list(itertools.product(["fwd_kernel", "bwd_kernel"], [True, False], [True, False], ["fp32", "bf16", "fp16"])),
)
def test_every_variant_compiles(kernel_name, persistent, reset_after, dtype):
    assert _compile(kernel_name, persistent, reset_after, dtype).asm["ptx"]
