"""seqkit: plugin-based recurrent sequence modelling on PyTorch; this module is the whole public plugin-author API.

A plugin (a cell, kernel, task, data source, tokenizer or callback) imports from ``seqkit`` and, in its tests, from
``seqkit.testing``; nothing else is public. Every name below is documented in ``docs/plugins/api.md``.
"""

from seqkit.batching import pad_sequences
from seqkit.cell import Cell, Params, State, check_bool, torch_style_shapes
from seqkit.corpora import Corpus, CorpusFile
from seqkit.data import (
    DataError,
    Located,
    Record,
    data_error,
    not_found,
    read_lines,
    require_file,
    resolve_path,
    where_of,
)
from seqkit.download import cache_dir, extracted, fetch
from seqkit.errors import (
    InvalidArgumentError,
    KernelUnavailableError,
    PluginError,
    SeqkitError,
    UnknownNameError,
)
from seqkit.hookspecs import (
    RegisterCallback,
    RegisterCell,
    RegisterDataset,
    RegisterKernel,
    RegisterTask,
    RegisterTokenizer,
    hookimpl,
)
from seqkit.layers import create_rnn, from_torch, to_torch
from seqkit.lengths import by_direction, last_step, reverse_within, valid_mask, zero_past_end
from seqkit.plugins import PluginManager, get_plugin_manager, set_plugin_manager
from seqkit.recurrent import Recurrent
from seqkit.reference import run_reference
from seqkit.registry import KernelSpec, Spec
from seqkit.task import CellFactory, Task
from seqkit.tokenize import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, SPECIALS, UNK, UNK_ID, Tokenizer

__version__ = "0.1.0"

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
    "InvalidArgumentError",
    "KernelSpec",
    "KernelUnavailableError",
    "Located",
    "Params",
    "PluginError",
    "PluginManager",
    "Record",
    "Recurrent",
    "RegisterCallback",
    "RegisterCell",
    "RegisterDataset",
    "RegisterKernel",
    "RegisterTask",
    "RegisterTokenizer",
    "SeqkitError",
    "Spec",
    "State",
    "Task",
    "Tokenizer",
    "UnknownNameError",
    "__version__",
    "by_direction",
    "cache_dir",
    "check_bool",
    "create_rnn",
    "data_error",
    "extracted",
    "fetch",
    "from_torch",
    "get_plugin_manager",
    "hookimpl",
    "last_step",
    "not_found",
    "pad_sequences",
    "read_lines",
    "require_file",
    "resolve_path",
    "reverse_within",
    "run_reference",
    "set_plugin_manager",
    "to_torch",
    "torch_style_shapes",
    "valid_mask",
    "where_of",
    "zero_past_end",
]
