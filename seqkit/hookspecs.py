"""Every hook a seqkit plugin can implement: this file is the plugin author's reference.

A plugin is a module (or any object) whose functions are marked with :data:`hookimpl` and named after
the hooks below. Install it with an entry point in the ``seqkit`` group::

    [project.entry-points.seqkit]
    mycell = "seqkit_mycell"

Each ``register_*`` hook receives one argument, ``register``: call it once per entry you provide.
The plugin manager records which plugin (and which installed distribution) registered each entry,
refuses a name registered twice, and refuses a hook implementation whose name is not listed here.
Keep a plugin's top-level module and its hooks light: ``seqkit plugins`` and ``seqkit ls`` call every hook,
so name implementations as ``"package.module:attribute"`` strings, imported when the entry is first used.
"""

from __future__ import annotations

from typing import Protocol

import pluggy

from seqkit.plugin.registry import KernelSpec, Spec

PROJECT = "seqkit"


# --- What each hook's ``register`` accepts: annotate a hook implementation's argument with these, and
# mypy checks that the plugin registers the right kind of entry. ----------------------------------------


class RegisterSpec(Protocol):
    """``register(spec)`` of the hooks whose entries are :class:`seqkit.Spec` (cells, tasks, data, ...)."""

    def __call__(self, spec: Spec, /) -> None: ...


class RegisterKernel(Protocol):
    """``register(spec)`` of :func:`register_kernels`: entries are :class:`seqkit.KernelSpec`."""

    def __call__(self, spec: KernelSpec, /) -> None: ...


RegisterCell = RegisterSpec
"""``register`` of :func:`register_cells`: ``Spec(name, build=(input_size, hidden_size, **options) -> Cell)``."""
RegisterTask = RegisterSpec
"""``register`` of :func:`register_tasks`: ``Spec(name, build=(**options) -> seqkit.Task)``."""
RegisterDataset = RegisterSpec
"""``register`` of :func:`register_datasets`: ``Spec(name, build=(**options) -> records or {split: records})``."""
RegisterTokenizer = RegisterSpec
"""``register`` of :func:`register_tokenizers`: ``Spec(name, build=(**options) -> seqkit.Tokenizer)``."""
RegisterCallback = RegisterSpec
"""``register`` of :func:`register_callbacks`: ``Spec(name, build=(**options) -> pytorch_lightning.Callback)``."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorator marking a plugin function as the implementation of the seqkit hook of the same name."""


# --- Models -------------------------------------------------------------------------------------------


@hookspec
def register_cells(register: RegisterCell) -> None:
    """Register recurrent cells: ``register(seqkit.Spec(name, build, description))``.

    ``build`` (a callable, or its ``"package.module:attribute"`` name, imported on first use)
    ``(input_size, hidden_size, **options)`` returns a :class:`seqkit.Cell` that defines one time
    step; its keyword arguments are the cell's options (``create_rnn(kind, ..., **options)`` and a
    recipe's ``model.cell`` keys), validated against ``build``'s signature. The generic runner adds
    layers, directions, dropout, lengths and state to every cell, so a cell plugin defines the step
    alone. Name parameters as ``torch.nn`` does (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) where the cell has a torch.nn counterpart, so state dicts load both ways.

    Example::

        @seqkit.hookimpl
        def register_cells(register: RegisterCell) -> None:
            register(seqkit.Spec("mgu", build="seqkit_mgu.cell:MGUCell", description="minimal gated unit"))
    """


@hookspec
def register_kernels(register: RegisterKernel) -> None:
    """Register kernels, the fast paths that run a whole layer: ``register(seqkit.KernelSpec(...))``.

    A kernel serves one cell kind (``KernelSpec.cell``) and must agree with that cell's step
    definition, outputs, final state and every gradient; ``seqkit``'s tests check registered kernels
    against the ``reference`` step loop. ``supports(cell, device, dtype)`` returns why the kernel cannot
    run a configuration (or None when it can); ``backend: auto`` picks the supporting kernel with the
    highest ``priority`` (unless its optional ``auto_skip(cell, device, dtype)`` gives a reason to pass it
    over, or its optional ``auto_rule(cell, device, dtype, shape)`` declines at the input's size bucket,
    ``seqkit.ShapeBucket``), and ``layer.backend_reason`` reports each kernel's answer. The ``reference``
    kernel (the cell's own step loop, priority 0) is always available.
    See :class:`seqkit.KernelSpec` for ``run``'s exact arguments and shapes.
    """


# --- Tasks and data ----------------------------------------------------------------------------------


@hookspec
def register_tasks(register: RegisterTask) -> None:
    """Register tasks: ``register(seqkit.Spec(name, build, description))``.

    ``build(**options)`` receives the recipe's ``task`` keys other than ``kind`` and returns a
    :class:`seqkit.Task`: it learns what it needs from the training records (a label set), encodes
    records, builds its model from a cell factory and the tokenizer (the recipe's ``model`` keys other
    than ``cell`` are arguments of its ``build_model``), and defines the loss, the torchmetrics metrics
    (logged as ``val/<name>`` and ``test/<name>``) and prediction. A task that reads no text sets
    ``needs_tokenizer = False``: its recipes need no ``tokenizer`` section, and it gets None for one.

    seqkit reads one ``task`` key itself, for every task: ``tbptt_steps`` (truncated backpropagation
    through time: the cell factory builds every stack with it). ``build`` receives it only when its
    signature names a ``tbptt_steps`` parameter, which a task that makes other ``seqkit.Recurrent`` layers
    itself does to pass it on.
    """


@hookspec
def register_datasets(register: RegisterDataset) -> None:
    """Register data sources: ``register(seqkit.Spec(name, build, description))``.

    ``build(**options)`` receives the recipe's ``data`` keys other than ``kind`` and seqkit's own
    (``batch_size``, ``global_batch_size``, ``eval_batch_size``, ``split``, ``num_workers``, ``limit``). It
    returns either one list of records such as ``{"text", "label"}`` or ``{"source", "target"}``, which
    seqkit splits with the recipe's seeded ``split`` fractions, or a mapping with ``train`` and optionally ``valid`` and
    ``test``. Resolve relative paths with :func:`seqkit.resolve_path` (``$SEQKIT_DATA``) and
    report bad data with :func:`seqkit.data_error` (file and line); a missing file read through
    :func:`seqkit.read_lines` (or raised with :func:`seqkit.not_found`) gets an error that names
    ``$SEQKIT_DATA`` and, when ``build`` takes a ``download`` option, ``data.download=true``. Nothing may
    download unless the recipe asks (``download: true``), and never at test time.

    A source that reads real corpora declares them: ``Spec(name, build, description,
    corpora=(seqkit.Corpus(name, folder, files=(seqkit.CorpusFile(path, size, sha256), ...), licence, url,
    fetch=...),))``. ``seqkit data ls`` lists them with sizes, licences and whether they are under
    ``$SEQKIT_DATA``; ``seqkit data fetch NAME`` calls ``fetch(folder)``, which downloads through
    :func:`seqkit.fetch` and writes the files into *folder*; ``seqkit data verify`` checks SHA-256.
    """


@hookspec
def register_tokenizers(register: RegisterTokenizer) -> None:
    """Register tokenizers: ``register(seqkit.Spec(name, build, description))``.

    ``build(**options)`` receives the recipe's ``tokenizer`` keys other than ``kind`` and returns a
    :class:`seqkit.Tokenizer` (ids 0–3 are ``<pad> <unk> <bos> <eos>``). It is fit on the
    training split and its ``state_dict()`` (plain data) is saved with the checkpoint.
    """


@hookspec
def register_callbacks(register: RegisterCallback) -> None:
    """Register Lightning callbacks a recipe may name: ``register(seqkit.Spec(name, build, description))``.

    ``build(**options)`` returns a ``pytorch_lightning.Callback``. A recipe names them as keys of its
    ``callbacks`` mapping with their options as values (``callbacks: {early_stopping: {patience: 3}}``;
    ``callbacks.early_stopping=null`` switches one off). Where the builder takes ``monitor`` and
    ``mode`` and the recipe leaves them out, seqkit passes the run's monitored metric.
    """


# The registry each hook fills: hook name -> (registry attribute, singular noun).
REGISTRIES: dict[str, tuple[str, str]] = {
    "register_cells": ("cells", "cell"),
    "register_kernels": ("kernels", "kernel"),
    "register_tasks": ("tasks", "task"),
    "register_datasets": ("datasets", "dataset"),
    "register_tokenizers": ("tokenizers", "tokenizer"),
    "register_callbacks": ("callbacks", "callback"),
}
