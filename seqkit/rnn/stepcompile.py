"""The step's forward and backward graphs compiled into fused kernels by inductor (``SEQKIT_GENERIC_LOOP=compiled``).

The one-node loop (:mod:`seqkit.rnn.loopnode`) runs each step's graphs operator by operator: a dozen small
ATen calls a step for the elementwise gates and layer norms around the recurrent GEMM. Inductor turns the
graph into one C++ loop nest per fused group (the GEMMs stay ATen's), once per graph and input shape, at the
graph's first call: a second or a few of compiling (less with inductor's on-disk cache warm), for a few
percent to a sixth of a step's time. Anything that goes wrong runs the graph as before: no C++ compiler or no
inductor (after three failed graphs none is tried again in this process), an operation inductor cannot lower,
arguments laid out otherwise than those compiled for. Parity: inductor reorders floating-point arithmetic inside a fused
kernel (``tanh`` is computed from ``exp``), so results match the eager graphs to rounding, not bitwise.
"""

from __future__ import annotations

import copy
import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, fx

from seqkit.rnn.stepgraph import GEMMS

log = logging.getLogger("seqkit.stepcompile")

# inductor's vectorised tanh (SLEEF's) took 5x ATen's time on the development machine; from exp it is on par
_OPTIONS = {"cpp.use_decompose_tanh": True, "compile_threads": 1}  # no pool of compile workers to start
# a graph with fewer operations besides its GEMMs and views has nothing to fuse: the compiled call only adds its cost
MIN_FUSED = 4
_MISMATCHES = 8  # calls laid out otherwise than compiled for, before the graph runs eagerly for good
# layouts of the varying arguments compiled as they come (a copy of a step's slice costs more than the fusion saves);
# beyond them, the arguments are copied contiguous and run through one more compiled variant
_LAYOUTS = 2
_lock = threading.Lock()
_broken: list[str] = []  # why compiling failed, each time: after _GIVE_UP failures none is tried in this process
_GIVE_UP = 3  # no C++ compiler fails every graph; an operation inductor cannot lower fails only its own


class Compiled:
    """*eager*'s graph (*module*) compiled at the shapes and layouts of its calls, returning what *eager* returns
    (as a list). The arguments at positions *varying* (slices along time, gradients handed in by autograd) are
    laid out by the sequence's length: their first layouts get variants of their own, others are copied. The graph
    writes into the arguments at positions *written* (:mod:`seqkit.rnn.writeinto`); the variant for copied arguments
    writes into a contiguous stand-in for such an argument, copied into it after."""

    def __init__(
        self, module: fx.GraphModule, eager: Callable[..., Any], varying: Sequence[int], written: Sequence[int] = ()
    ) -> None:
        self.module, self.eager, self.varying = module, eager, tuple(varying)
        self.written = tuple(written)  # inputs the graph writes into (seqkit.rnn.writeinto): never copied
        self.fns: dict[tuple[Any, ...] | None, Callable[..., Any]] = {}  # None: the variant for copied arguments
        self.off = False  # compiling failed, or calls kept failing: the eager graph from now on
        self.mismatches = 0

    def __call__(self, *args: Any) -> Any:
        if self.off:
            return self.eager(*args)
        layout: tuple[Any, ...] | None = tuple([args[i].stride() for i in self.varying])
        fn = self.fns.get(layout)
        given = args
        if fn is None:
            if len(self.fns) >= _LAYOUTS:
                args, layout = self._contiguous(args), None
                fn = self.fns.get(None)
            fn = fn or self._compile(layout, args)
            if fn is None:
                return self.eager(*given)
        try:
            result = fn(*args)
        except AssertionError:  # inductor checks sizes and strides before it computes anything with them
            self.mismatches += 1
            self.off = self.mismatches >= _MISMATCHES
            return self.eager(*given)
        if layout is None:  # the variant for copied arguments: what it wrote into a stand-in goes where it belongs
            for i in self.written:
                if args[i] is not given[i]:
                    given[i].copy_(args[i])
        return result

    def _contiguous(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(args)
        for i in self.varying:
            if i in self.written:  # a stand-in to write into (what it holds now is not read), copied back after
                if not values[i].is_contiguous():
                    values[i] = torch.empty(values[i].shape, dtype=values[i].dtype, device=values[i].device)
            else:
                values[i] = values[i].contiguous()
        return tuple(values)

    def _compile(self, layout: tuple[Any, ...] | None, args: tuple[Any, ...]) -> Callable[..., Any] | None:
        with _lock:  # one compile at a time: a thread asking for a variant being compiled waits for it
            if layout not in self.fns and not self.off:
                fn = _inductor(self.module, args)
                if fn is None:
                    self.off = True
                else:
                    self.fns[layout] = fn
        return self.fns.get(layout)


def _pointwise(module: fx.GraphModule) -> int:
    """How many of *module*'s operations are neither GEMMs nor views: what inductor could fuse."""
    count = 0
    for node in module.graph.nodes:
        target = node.target
        if node.op == "call_function" and isinstance(target, torch._ops.OpOverload):
            view = any(r.alias_info is not None for r in target._schema.returns)
            count += not view and target not in GEMMS
    return count


def _inductor(module: fx.GraphModule, args: tuple[Any, ...]) -> Callable[..., Any] | None:
    """*module* compiled by inductor for *args*, or None (logged at debug level) where that fails."""
    if len(_broken) >= _GIVE_UP or _pointwise(module) < MIN_FUSED or not all(isinstance(a, Tensor) for a in args):
        return None
    try:
        inductor = importlib.import_module("torch._inductor")  # a torch without it: the eager graphs
        examples = [a.detach() for a in args]
        with inductor.config.patch(_OPTIONS), torch.no_grad():
            fn = inductor.compile(copy.deepcopy(module), examples)
        fn = _unwrapped(fn)
        expected = module(*examples)
        got = fn(*examples)  # a first call checks that it runs and returns what the graph returns
        if len(got) != len(expected) or any((e is None) != (g is None) for e, g in zip(expected, got)):
            raise ValueError("the compiled graph returns other values")
        return fn
    except Exception as exc:  # no C++ compiler, an operation inductor cannot lower, ...
        _broken.append(f"{type(exc).__name__}: {exc}")
        log.debug("the step's graphs run eagerly: inductor failed (%s)", _broken[-1])
        return None


def _unwrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Inductor's compiled module itself where *fn* exposes it, without aot_autograd's runtime wrappers around it
    (7 µs a call, 2 % of an LSTM step): a step's graphs mutate no input and return no view to regenerate."""
    raw = getattr(getattr(fn, "__wrapped__", None), "current_callable", None)
    if not callable(raw):
        return fn
    return lambda *args: raw(list(args))


def reason() -> str | None:
    """Why compiling a graph failed first in this process, or None."""
    return _broken[0] if _broken else None
