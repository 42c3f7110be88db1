"""The Triton GRU kernels compile for a GPU (sm_90) on a machine without one: what the interpreter cannot check."""

from __future__ import annotations

import itertools
import re

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


# The barrier's arrival is a GPU-scoped add with release order and its wait a GPU-scoped read with acquire order.
# Triton versions spell them differently (`red` when the result is unused, `atom` otherwise; the qualifiers' order
# varies), so each instruction is recognised by its opcode and qualifiers, not by one spelling.
RELEASE_ADD = re.compile(r"\b(?:red|atom)(?=[\w.]*\.release\b)(?=[\w.]*\.gpu\b)(?=[\w.]*\.global\b)[\w.]*\.add\b")
ACQUIRE_READ = re.compile(r"\b(?:ld|atom)(?=[\w.]*\.acquire\b)(?=[\w.]*\.gpu\b)[\w.]*\.(?:b32|u32|s32|add)\b")


def test_the_barrier_patterns_accept_each_triton_spelling():
    for line in (
        "red.global.gpu.release.add.u32 [%rd1], %r1;",
        "atom.global.gpu.release.add.u32 %r2, [%rd1], %r1;",
        "atom.release.gpu.global.add.u32 %r2, [%rd1], %r1;",
    ):
        assert RELEASE_ADD.search(line), line
    for line in ("ld.global.gpu.acquire.b32 %r3, [%rd1];", "atom.acquire.gpu.global.add.u32 %r3, [%rd1], 0;"):
        assert ACQUIRE_READ.search(line), line
    for line in (
        "atom.global.gpu.relaxed.add.u32 %r2, [%rd1], %r1;",
        "red.global.cta.release.add.u32 [%rd1], %r1;",
        "ld.global.b32 %r3, [%rd1];",
        "ld.global.cta.acquire.b32 %r3, [%rd1];",
    ):
        assert not RELEASE_ADD.search(line) and not ACQUIRE_READ.search(line), line


def test_the_persistent_barrier_compiles_to_release_and_acquire():
    ptx = _compile("fwd_kernel", True, False, "bf16").asm["ptx"]
    assert RELEASE_ADD.search(ptx), "no GPU-scoped release add in the persistent kernel's PTX"
    assert ACQUIRE_READ.search(ptx), "no GPU-scoped acquire read in the persistent kernel's PTX"


def test_the_per_step_backward_compiles():
    assert _compile("bwd_kernel", False, True, "fp32").asm["ptx"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kernel_name,persistent,reset_after,dtype",
    list(itertools.product(["fwd_kernel", "bwd_kernel"], [True, False], [True, False], ["fp32", "bf16", "fp16"])),
)
def test_every_variant_compiles(kernel_name, persistent, reset_after, dtype):
    assert _compile(kernel_name, persistent, reset_after, dtype).asm["ptx"]
