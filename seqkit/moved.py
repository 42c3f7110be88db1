"""Old import paths of modules that moved into packages: ``import seqkit.config`` still works, as the same module.

The core was flat; its modules now live in packages by job (``seqkit.rnn``, ``seqkit.recipe``, ...). Scripts,
tests and pickles (a layer pickled as ``seqkit.recurrent.Recurrent``) may name the old paths: this finder
answers each with the module at its new path, imported on first use, so both names are one module object
(patching one patches the other). New code imports the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

# old path -> new path
MOVED: dict[str, str] = {
    # the layer library
    "seqkit.cell": "seqkit.rnn.cell",
    "seqkit.context": "seqkit.rnn.context",
    "seqkit.derive": "seqkit.rnn.derive",
    "seqkit.initializers": "seqkit.rnn.initializers",
    "seqkit.kernels": "seqkit.rnn.kernels",
    "seqkit.layer_checks": "seqkit.rnn.checks",
    "seqkit.layer_options": "seqkit.rnn.options",
    "seqkit.layers": "seqkit.rnn.layers",
    "seqkit.lengths": "seqkit.rnn.lengths",
    "seqkit.recurrent": "seqkit.rnn.recurrent",
    "seqkit.reference": "seqkit.rnn.reference",
    "seqkit.regularizers": "seqkit.rnn.regularizers",
    "seqkit.scan": "seqkit.rnn.generic",
    "seqkit.tbptt": "seqkit.rnn.tbptt",
    "seqkit.torch_interop": "seqkit.rnn.torch_interop",
    "seqkit.keras_layout": "seqkit.rnn.keras_layout",
    "seqkit.keras_interop": "seqkit.rnn.keras_interop",
    # the plugin system
    "seqkit.plugins": "seqkit.plugin.manager",
    "seqkit.registry": "seqkit.plugin.registry",
    "seqkit.lazy": "seqkit.plugin.lazy",
    "seqkit.hookdoc": "seqkit.plugin.hookdoc",
    "seqkit.governance": "seqkit.plugin.governance",
    # recipes: loading, overrides, the keys of each section, validation
    "seqkit.config": "seqkit.recipe.validate",
    "seqkit.recipes": "seqkit.recipe.load",
    "seqkit.sections": "seqkit.recipe.sections",
    "seqkit.dry_build": "seqkit.recipe.dry_build",
    "seqkit.cell_factory": "seqkit.recipe.cell_factory",
    "seqkit.typecheck": "seqkit.recipe.typecheck",
    "seqkit.optim": "seqkit.recipe.optim",
    # the run: build, Lightning module and data module, checkpoints, resilience, distributed
    "seqkit.build": "seqkit.run.build",
    "seqkit.module": "seqkit.run.module",
    "seqkit.datamodule": "seqkit.run.datamodule",
    "seqkit.checkpoint": "seqkit.run.checkpoint",
    "seqkit.checkpoint_io": "seqkit.run.checkpoint_io",
    "seqkit.distributed": "seqkit.run.distributed",
    "seqkit.resilience": "seqkit.run.resilience",
    "seqkit.resume_state": "seqkit.run.resume_state",
    "seqkit.run_dir": "seqkit.run.run_dir",
    "seqkit.runs": "seqkit.run.runs",
    "seqkit.train": "seqkit.run.train",
    "seqkit.trainer_notes": "seqkit.run.trainer_notes",
    "seqkit.profile": "seqkit.run.profile",
    "seqkit.report": "seqkit.run.report",
    "seqkit.throughput": "seqkit.run.throughput",
    "seqkit.state_shape": "seqkit.run.state_shape",
    # records, data files and downloads, tokenizers, padding
    "seqkit.data_trust": "seqkit.data.trust",
    "seqkit.download": "seqkit.data.download",
    "seqkit.download_watch": "seqkit.data.download_watch",
    "seqkit.corpora": "seqkit.data.corpora",
    "seqkit.tokenize": "seqkit.data.tokenize",
    "seqkit.batching": "seqkit.data.batching",
    # the command line: one module per subcommand
    "seqkit.predict_command": "seqkit.cli.predict",
    "seqkit.checkpoint_args": "seqkit.cli.checkpoint_args",
    "seqkit.data_commands": "seqkit.cli.data",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The module ran at its new path already."""

    def get_code(self, fullname: str) -> object:
        """The new module's code: ``python -m seqkit.hookdoc`` runs ``seqkit.plugin.hookdoc``."""
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)  # type: ignore[union-attr]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec:
        if fullname not in MOVED:
            return None  # type: ignore[return-value]
        return importlib.machinery.ModuleSpec(fullname, _Alias(MOVED[fullname]))


def install() -> None:
    """Answer the old paths (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
