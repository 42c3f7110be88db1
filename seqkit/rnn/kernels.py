"""Kernel selection: ``backend="auto"`` picks the best kernel that supports a layer, and says why."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from seqkit.errors import KernelUnavailableError, PluginError, UnknownNameError, one_line, suggest
from seqkit.plugin.lazy import resolved
from seqkit.plugin.registry import AUTO as AUTO
from seqkit.plugin.registry import GENERIC_KERNEL, REFERENCE_KERNEL, KernelSpec, Provenance, Registry, ShapeBucket

if TYPE_CHECKING:  # `seqkit ls` lists these kernels without importing torch
    import torch

    from seqkit.rnn.cell import Cell

log = logging.getLogger("seqkit.kernels")  # its name before the move: users' logging configs name it

REFERENCE = KernelSpec(
    cell="*",
    name=REFERENCE_KERNEL,
    run="seqkit.rnn.reference:run_reference",
    supports=lambda cell, device, dtype: None,
    priority=0,
    description="the cell's own step loop; runs every cell on every device",
    provenance=Provenance("seqkit"),
)

GENERIC = KernelSpec(
    cell="*",
    name=GENERIC_KERNEL,
    run="seqkit.rnn.generic:run_generic",
    supports=lambda cell, device, dtype: None,
    priority=10,
    description="the cell's step with its input part hoisted into one GEMM and a lean time loop; "
    "auto's choice for cells without a dedicated kernel, on every device",
    provenance=Provenance("seqkit"),
)


@dataclass(frozen=True)
class Choice:
    """The kernel a layer runs with, and the reason (every candidate's answer, for ``backend_reason``)."""

    kernel: KernelSpec
    reason: str


def candidates(kernels: Registry[KernelSpec], cell_kind: str) -> list[KernelSpec]:
    """The kernels registered for *cell_kind*, plus ``generic`` and ``reference``, best (highest priority) first."""
    found = [k for k in kernels if k.cell == cell_kind]
    return sorted([*found, GENERIC, REFERENCE], key=lambda k: (-k.priority, k.name))


def loaded(kernel: KernelSpec) -> KernelSpec:
    """*kernel* with the functions it names as ``"module:attribute"`` imported: a layer's candidates, once built."""
    return replace(
        kernel,
        run=resolved(kernel.run),
        supports=resolved(kernel.supports),
        auto_skip=resolved(kernel.auto_skip),
        auto_rule=resolved(kernel.auto_rule),
    )


def check_requested(options: list[KernelSpec], requested: str, cell: Cell) -> Choice | None:
    """At construction: an explicit *requested* kernel exists and can run *cell*'s options.

    Returns the explicit choice (device and dtype are checked at each run), or None for ``auto``.
    """
    if requested == AUTO:
        return None
    kernel = _by_name(options, requested, cell)
    reason = _ask(kernel, cell, None, None)
    if reason is not None:
        raise KernelUnavailableError(f"backend '{requested}' cannot run {cell!r}: {reason}")
    return Choice(kernel, f"'{kernel.name}' was requested explicitly")


def select(
    options: list[KernelSpec],
    requested: str,
    cell: Cell,
    device: torch.device,
    dtype: torch.dtype,
    shape: ShapeBucket | None = None,
) -> Choice:
    """The kernel to run *cell* on *device*/*dtype*: the named one, or with ``auto`` the best supporting one.

    *shape* (None before the layer has seen an input) is what a kernel's ``auto_rule`` decides on.
    """
    where = f"{device.type}/{str(dtype).removeprefix('torch.')}"
    if requested != AUTO:
        kernel = _by_name(options, requested, cell)
        why_not = _ask(kernel, cell, device, dtype)
        if why_not is not None:
            raise KernelUnavailableError(f"backend '{requested}' cannot run {cell!r} on {where}: {why_not}")
        return Choice(kernel, f"'{kernel.name}' was requested explicitly ({where})")
    skipped = []
    for kernel in options:
        why_not = _ask(kernel, cell, device, dtype)
        if why_not is None and kernel.auto_skip is not None:
            why_not = _ask(kernel, cell, device, dtype, check="auto_skip")
        rule = None
        if why_not is None and kernel.auto_rule is not None:
            take, rule = _rule(kernel, cell, device, dtype, shape)
            why_not = None if take else rule
        if why_not is None:
            reason = f"auto chose '{kernel.name}' (priority {kernel.priority}) on {where}"
            if shape is not None:
                reason += f" for {shape}"
            if rule:
                reason += f" ({rule})"
            if skipped:
                reason += "; skipped " + "; ".join(skipped)
            log.debug("%r: %s", cell, reason)
            return Choice(kernel, reason)
        skipped.append(f"'{kernel.name}': {why_not}")
    raise KernelUnavailableError(f"no kernel can run {cell!r} on {where}: " + "; ".join(skipped))


def _rule(
    kernel: KernelSpec, cell: Cell, device: torch.device, dtype: torch.dtype, shape: ShapeBucket | None
) -> tuple[bool, str]:
    """The kernel's ``auto_rule`` answer, checked: ``(take, why)`` with a bool and a non-empty reason."""
    try:
        answer = kernel.auto_rule(cell, device, dtype, shape)  # type: ignore[misc]
    except Exception as exc:
        raise PluginError(
            f"kernel '{kernel.key}' of {kernel.provenance} failed in auto_rule(): {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    if (
        not isinstance(answer, tuple)
        or len(answer) != 2
        or not isinstance(answer[0], bool)
        or not isinstance(answer[1], str)
        or not answer[1]
    ):
        raise PluginError(f"kernel '{kernel.key}' of {kernel.provenance}: auto_rule() must return (bool, reason)")
    return answer


def _ask(
    kernel: KernelSpec, cell: Cell, device: torch.device | None, dtype: torch.dtype | None, check: str = "supports"
) -> str | None:
    """The kernel's ``supports`` (or ``auto_skip``) answer; a check that fails is the plugin's fault, and says so."""
    try:
        answer = getattr(kernel, check)(cell, device, dtype)
    except Exception as exc:
        raise PluginError(
            f"kernel '{kernel.key}' of {kernel.provenance} failed in {check}(): {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    if answer is not None and not isinstance(answer, str):
        raise PluginError(f"kernel '{kernel.key}' of {kernel.provenance}: {check}() must return None or a reason")
    return answer


def _by_name(options: list[KernelSpec], name: str, cell: Cell) -> KernelSpec:
    for kernel in options:
        if kernel.name == name:
            return kernel
    names = [k.name for k in options]
    raise UnknownNameError(
        f"unknown backend {name!r} for {cell!r}{suggest(name, [*names, AUTO]) or '.'} "
        f"Available: {AUTO}, {', '.join(names)}."
    )
