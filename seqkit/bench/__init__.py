"""``seqkit bench``: time recurrent layers. ``layer`` (one cell, per backend), ``cells`` (every cell), ``matrix``
(a grid of shapes), sharing ``timing`` (the workload and interleaved timing) and ``args`` (the command line).

Nothing is imported until used: the command line reads ``args`` for every command, without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# the timing helpers scripts under benchmarks/ use, by their old names: seqkit.bench.measure ...
_LAZY = {"measure": "timing", "_workload": "timing", "write_json": "timing", "DTYPES": "timing", "main": "layer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"seqkit.bench.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'seqkit.bench' has no attribute {name!r}")
