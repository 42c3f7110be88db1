"""Loads the Triton device code once per mode: compiled for the GPU, or run by Triton's interpreter on CPU."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

_SOURCE = Path(__file__).with_name("jit.py")
_LOADED: dict[bool, ModuleType] = {}
_LOCK = threading.Lock()


def device_code(interpret: bool) -> ModuleType:
    """The kernels of :mod:`seqkit_triton.jit`, decorated for the interpreter (CPU tensors) or for the GPU.

    Triton reads ``TRITON_INTERPRET`` when ``@triton.jit`` runs, that is when the module is imported, so each
    mode gets its own copy of the module, imported with the variable set accordingly. A process can then
    run CPU tensors in the interpreter and CUDA tensors compiled, whatever the variable said first.
    """
    with _LOCK:
        module = _LOADED.get(interpret)
        if module is not None:
            return module
        name = f"seqkit_triton._jit_{'interpreted' if interpret else 'compiled'}"
        spec = importlib.util.spec_from_file_location(name, _SOURCE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        before = os.environ.get("TRITON_INTERPRET")
        os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
        try:
            sys.modules[name] = module  # Triton reads the kernels' source through their module
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            if before is None:
                os.environ.pop("TRITON_INTERPRET", None)
            else:
                os.environ["TRITON_INTERPRET"] = before
        _LOADED[interpret] = module
        return module


def is_interpreted(kernel: object) -> bool:
    """Whether a loaded kernel runs in the interpreter (what tests check: the mode really applied)."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(kernel, InterpretedFunction)
