"""seqkit: plugin-based recurrent sequence modelling on PyTorch."""

from seqkit.cell import Cell
from seqkit.corpora import Corpus, CorpusFile
from seqkit.errors import (
    InvalidArgumentError,
    KernelUnavailableError,
    PluginError,
    SeqkitError,
    UnknownNameError,
)
from seqkit.hookspecs import hookimpl
from seqkit.layers import create_rnn, from_torch, to_torch
from seqkit.plugins import PluginManager, get_plugin_manager, set_plugin_manager
from seqkit.recurrent import Recurrent
from seqkit.registry import KernelSpec, Spec

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "Corpus",
    "CorpusFile",
    "InvalidArgumentError",
    "KernelSpec",
    "KernelUnavailableError",
    "PluginError",
    "PluginManager",
    "Recurrent",
    "SeqkitError",
    "Spec",
    "UnknownNameError",
    "__version__",
    "create_rnn",
    "from_torch",
    "get_plugin_manager",
    "hookimpl",
    "set_plugin_manager",
    "to_torch",
]
