"""Read a seqkit checkpoint and rebuild what ``eval`` and ``predict`` need from it alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from seqkit.data.trust import untrusted_paths
from seqkit.errors import SeqkitError, one_line, printable
from seqkit.filekind import special
from seqkit.plugin.governance import check_checkpoint_plugins
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.recipe.load import Recipe, from_config
from seqkit.run.weights import trained_dtype, weights_problem


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded with ``weights_only=True``: a checkpoint cannot run code."""
    path = Path(path)
    if not path.is_file():
        kind = special(path)  # a named pipe is never opened: it would wait for a writer forever
        problem = f": expected a file, found {kind}" if kind else " not found"
        raise SeqkitError(f"checkpoint {path}{problem}")
    if not _looks_like_torch_file(path):  # a text file, an image...: say so, not what torch's reader tripped on
        raise SeqkitError(
            f"{path}: not a seqkit checkpoint (not a file written by torch.save); was it written by `seqkit train`?"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated file, damaged archive, unsafe pickle: all one answer
        raise SeqkitError(f"{path}: not a readable seqkit checkpoint ({_why(error)})") from None
    if not isinstance(checkpoint, dict) or "seqkit" not in checkpoint or "state_dict" not in checkpoint:
        raise SeqkitError(f"{path}: not a seqkit checkpoint (no 'seqkit' entry); was it written by `seqkit train`?")
    meta = checkpoint["seqkit"]
    plugins = meta.get("plugins", []) if isinstance(meta, dict) else None
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("recipe"), dict)
        or not isinstance(checkpoint["state_dict"], dict)
        or not isinstance(plugins, list)
        or not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in plugins)
    ):
        raise SeqkitError(
            f"{path}: a damaged seqkit checkpoint: expected its 'seqkit' entry to hold the recipe (a mapping) and "
            "the plugins (a list of mappings), and a state_dict"
        )
    return checkpoint


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (or, in its legacy format, a pickle, which opens with its protocol byte)."""
    with path.open("rb") as stream:
        head = stream.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _why(error: Exception) -> str:
    """torch's refusal, without its advice to load with ``weights_only=False`` (which would run the file's code)."""
    text = one_line(error)
    if "weights_only" in text or "Weights only load failed" in text:
        return "it holds objects other than tensors and plain data, which seqkit never loads"
    return printable(f"{type(error).__name__}: {text[:200]}")


def recipe_of(checkpoint: dict[str, Any], path: Path, overrides: list[str]) -> Recipe:
    saved = checkpoint["seqkit"]
    name = saved.get("recipe_name")
    return from_config(saved["recipe"], overrides, path=path, name=name if isinstance(name, str) else "recipe")


def load(
    path: str | Path, overrides: list[str] = (), splits: tuple[str, ...] = (), manager: PluginManager | None = None
) -> Any:
    """The :class:`seqkit.run.build.Parts` of a checkpoint's run with its trained weights, tokenizer and labels."""
    from seqkit.run.build import build

    path = Path(path)
    manager = manager or get_plugin_manager()
    checkpoint = read_checkpoint(path)
    check_checkpoint_plugins(checkpoint["seqkit"].get("plugins", []), checkpoint["seqkit"]["recipe"], manager, path)
    recipe = recipe_of(checkpoint, path, list(overrides))
    try:
        # its data paths stay under $SEQKIT_DATA unless typed; its model no larger than the weights it holds
        with untrusted_paths(path, overrides), weights_at_most(_numel(checkpoint["state_dict"]), path):
            parts = build(recipe, manager, state=checkpoint["seqkit"], splits=splits)
    except SeqkitError:
        raise
    except Exception as error:  # the saved tokenizer or task state is not what the plugin wrote: a damaged file
        raise SeqkitError(
            f"{path}: cannot rebuild the run from this checkpoint ({_why(error)}); is it damaged?"
        ) from None
    # torch would cast whatever it is given (int8, bool, complex with a warning): each weight must be the model's own
    problem = weights_problem(parts.module, checkpoint["state_dict"], trained_dtype(checkpoint["seqkit"]["recipe"]))
    if problem:
        raise SeqkitError(f"{path}: the weights do not fit the model the recipe builds: {problem}")
    try:  # checked above: every weight a dense tensor of its parameter's dtype and shape
        parts.module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError, ValueError) as error:  # what those checks cannot foresee
        raise SeqkitError(f"{path}: cannot load its weights ({_why(error)}); is it damaged?") from None
    # NaN or infinity, as loaded: a float64 1e300 (a -true run's dtype) is finite in the file, inf in float32
    check_finite(parts.module.state_dict(), path)
    return parts


def _numel(state_dict: dict[str, Any]) -> int:
    """The weights the checkpoint holds: the elements its storages hold, each storage once. Not the tensors'
    ``numel``: an expanded tensor (stride 0) of 4 bytes on disk reports 10¹⁴ elements, which would let its
    recipe build a model that size."""
    held: dict[tuple[Any, ...], int] = {}
    for value in state_dict.values():
        if isinstance(value, torch.Tensor) and value.layout == torch.strided and value.device.type != "meta":
            storage = value.untyped_storage()
            key = (storage.device, storage.data_ptr(), storage.nbytes())
            held[key] = max(held.get(key, 0), storage.nbytes() // max(1, value.element_size()))
    return sum(held.values())


@contextmanager
def weights_at_most(held: int, path: Path) -> Iterator[None]:
    """Within this block, building modules with many more weights than the checkpoint *held* is an error.

    A checkpoint of a few kilobytes may name ``hidden_size: 65536, num_layers: 1024``: built, that model would
    take terabytes before its weights could be found missing. A parameter is registered after torch reserves its
    memory but before anything initialises (touches) it, so counting there stops the build in time. The margin
    allows for weights a model registers twice (tied, or replaced while it is built).
    """
    limit = 2 * held + (1 << 20)
    total = 0

    def count(module: Any, name: str, param: Any) -> None:
        nonlocal total
        total += param.numel() if param is not None else 0
        if total > limit:
            raise SeqkitError(
                f"{path}: its recipe builds a model with more than {total:,} weights, but it holds {held:,}: "
                "it is damaged or was tampered with (an override may also have enlarged the model)"
            )

    handle = torch.nn.modules.module.register_module_parameter_registration_hook(count)
    try:
        yield
    finally:
        handle.remove()


def check_finite(state_dict: dict[str, Any], path: Path) -> None:
    """A checkpoint whose weights hold NaN or infinity would predict ``nan``: an error, not a result."""
    for name, value in state_dict.items():
        inexact = isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())
        if inexact and not bool(torch.isfinite(value).all()):  # complex too: loading would keep its NaN real part
            raise SeqkitError(
                f"{path}: weight {printable(name)} holds NaN or infinite values; this checkpoint cannot be used "
                "(train again, or resume from an earlier checkpoint)"
            )
