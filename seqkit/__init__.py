"""seqkit: plugin-based recurrent sequence modelling on PyTorch; this module is the whole public plugin-author API.

A plugin (a cell, kernel, task, data source, tokenizer or callback) imports from ``seqkit`` and, in its tests, from
``seqkit.testing``; nothing else is public. Every name below is documented in ``docs/plugins/api.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seqkit import moved

__version__ = "0.1.0"

moved.install()  # old module paths (seqkit.recurrent, ...) still import, as the modules now in packages

# Each public name and the module defining it, imported on first use (PEP 562): `seqkit --help` and `seqkit
# plugins` must not pay for torch, and `import seqkit` alone costs nothing.
_SOURCES: dict[str, tuple[str, ...]] = {
    "seqkit.data.batching": ("pad_sequences",),
    "seqkit.bounds": ("Probability", "Range", "Width"),
    "seqkit.rnn.cell": ("Cell", "Params", "State", "check_bool", "torch_style_shapes"),
    "seqkit.data.corpora": ("Corpus", "CorpusFile"),
    "seqkit.data": (
        "DataError",
        "Located",
        "Record",
        "data_error",
        "not_found",
        "open_data",
        "read_lines",
        "require_file",
        "resolve_path",
        "where_of",
    ),
    "seqkit.data.download": ("cache_dir", "extracted", "fetch"),
    "seqkit.export.spec": ("ExportError", "ExportGraph", "OnnxOp"),
    "seqkit.errors": (
        "InvalidArgumentError",
        "KernelUnavailableError",
        "PluginError",
        "SeqkitError",
        "UnknownNameError",
    ),
    "seqkit.hookspecs": (
        "RegisterCallback",
        "RegisterCell",
        "RegisterDataset",
        "RegisterKernel",
        "RegisterSpec",
        "RegisterTask",
        "RegisterTokenizer",
        "hookimpl",
    ),
    "seqkit.rnn.keras_interop": ("from_keras", "to_keras"),
    "seqkit.rnn.layers": ("create_rnn", "from_torch", "to_torch"),
    "seqkit.rnn.linear": ("linear",),
    "seqkit.rnn.fused": ("unfused_reason",),
    "seqkit.rnn.lengths": ("by_direction", "last_step", "reverse_within", "valid_mask", "zero_past_end"),
    "seqkit.plugin.manager": ("PluginManager", "get_plugin_manager", "set_plugin_manager"),
    "seqkit.predict_options": ("PredictOption",),
    "seqkit.rnn.recurrent": ("Recurrent",),
    "seqkit.rnn.reference": ("run_reference",),
    "seqkit.plugin.registry": ("KernelSpec", "ShapeBucket", "Spec"),
    "seqkit.task": ("CellFactory", "Task"),
    "seqkit.data.tokenize": (
        "BOS",
        "BOS_ID",
        "EOS",
        "EOS_ID",
        "PAD",
        "PAD_ID",
        "SPECIALS",
        "UNK",
        "UNK_ID",
        "Tokenizer",
    ),
}
_WHERE = {name: module for module, names in _SOURCES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'seqkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # type checkers and IDEs see the eager imports
    from seqkit.bounds import Probability, Range, Width
    from seqkit.data import (
        DataError,
        Located,
        Record,
        data_error,
        not_found,
        open_data,
        read_lines,
        require_file,
        resolve_path,
        where_of,
    )
    from seqkit.data.batching import pad_sequences
    from seqkit.data.corpora import Corpus, CorpusFile
    from seqkit.data.download import cache_dir, extracted, fetch
    from seqkit.data.tokenize import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, SPECIALS, UNK, UNK_ID, Tokenizer
    from seqkit.errors import (
        InvalidArgumentError,
        KernelUnavailableError,
        PluginError,
        SeqkitError,
        UnknownNameError,
    )
    from seqkit.export.spec import ExportError, ExportGraph, OnnxOp
    from seqkit.hookspecs import (
        RegisterCallback,
        RegisterCell,
        RegisterDataset,
        RegisterKernel,
        RegisterSpec,
        RegisterTask,
        RegisterTokenizer,
        hookimpl,
    )
    from seqkit.plugin.manager import PluginManager, get_plugin_manager, set_plugin_manager
    from seqkit.plugin.registry import KernelSpec, ShapeBucket, Spec
    from seqkit.predict_options import PredictOption
    from seqkit.rnn.cell import Cell, Params, State, check_bool, torch_style_shapes
    from seqkit.rnn.fused import unfused_reason
    from seqkit.rnn.keras_interop import from_keras, to_keras
    from seqkit.rnn.layers import create_rnn, from_torch, to_torch
    from seqkit.rnn.lengths import by_direction, last_step, reverse_within, valid_mask, zero_past_end
    from seqkit.rnn.linear import linear
    from seqkit.rnn.recurrent import Recurrent
    from seqkit.rnn.reference import run_reference
    from seqkit.task import CellFactory, Task

__all__ = [
    "BOS",
    "BOS_ID",
    "EOS",
    "EOS_ID",
    "PAD",
    "PAD_ID",
    "SPECIALS",
    "UNK",
    "UNK_ID",
    "Cell",
    "CellFactory",
    "Corpus",
    "CorpusFile",
    "DataError",
    "ExportError",
    "ExportGraph",
    "InvalidArgumentError",
    "KernelSpec",
    "KernelUnavailableError",
    "Located",
    "OnnxOp",
    "Params",
    "PluginError",
    "PluginManager",
    "PredictOption",
    "Probability",
    "Range",
    "Record",
    "Recurrent",
    "RegisterCallback",
    "RegisterCell",
    "RegisterDataset",
    "RegisterKernel",
    "RegisterSpec",
    "RegisterTask",
    "RegisterTokenizer",
    "SeqkitError",
    "ShapeBucket",
    "Spec",
    "State",
    "Task",
    "Tokenizer",
    "UnknownNameError",
    "Width",
    "__version__",
    "by_direction",
    "cache_dir",
    "check_bool",
    "create_rnn",
    "data_error",
    "extracted",
    "fetch",
    "from_keras",
    "from_torch",
    "get_plugin_manager",
    "hookimpl",
    "last_step",
    "linear",
    "not_found",
    "open_data",
    "pad_sequences",
    "read_lines",
    "require_file",
    "resolve_path",
    "reverse_within",
    "run_reference",
    "set_plugin_manager",
    "to_keras",
    "to_torch",
    "torch_style_shapes",
    "unfused_reason",
    "valid_mask",
    "where_of",
    "zero_past_end",
]
