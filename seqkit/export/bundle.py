"""Write an export bundle: one file per graph, ``tokenizer.json``, ``task.json`` and ``manifest.json``."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from seqkit.errors import SeqkitError
from seqkit.export.spec import ExportError, ExportGraph

OPSET = 17
FORMATS = ("onnx", "torch")
BUNDLE_VERSION = 1


def plain(value: Any, what: str) -> Any:
    """*value* if JSON can hold it as it is (a bundle is plain data), else an error naming *what*."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ExportError(f"{what} is not plain JSON data ({error}); the bundle cannot hold it") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch's tracer warns about every Python value it records as a constant (the parity tests are the check), and
    torch.export logs the graph it failed on: the one-line error says what matters."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def write_onnx(graph: ExportGraph, path: Path) -> None:
    """*graph* as ONNX, checked by onnx's checker: its recurrent layers as native GRU/LSTM/RNN nodes, or,
    when a cell has no such operator, every layer as an ONNX ``Loop`` over the cell's own step."""
    import onnx

    from seqkit.export.onnx_rnn import lacking_operator, native_recurrent

    if lacking_operator(graph.module):
        _write_onnx_loops(graph, path)
    else:
        _write_onnx_native(graph, path, native_recurrent)
    onnx.checker.check_model(str(path), full_check=True)


def _write_onnx_loops(graph: ExportGraph, path: Path) -> None:
    """torch.onnx's torch.export-based exporter, which writes each layer's ``while_loop`` as an ONNX ``Loop``."""
    from seqkit.export.onnx_rnn import lacking_operator
    from seqkit.export.torch_rnn import looped_recurrent

    cells = ", ".join(f"'{k}'" for k in lacking_operator(graph.module))
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(
            f"cell {cells} has no ONNX operator; exporting its step as an ONNX Loop needs onnxscript "
            "(pip install 'seqkit[export]'), or use --format torch"
        ) from None
    _, nested = _dynamic_shapes(graph)
    with _quiet(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), looped_recurrent(graph.module):
        try:
            program = torch.onnx.export(
                graph.module,
                tuple(graph.inputs.values()),
                dynamo=True,
                dynamic_shapes=nested,
                input_names=list(graph.inputs),
                output_names=list(graph.outputs),
                opset_version=18,  # the torch.export-based exporter's lowest
                verbose=False,
            )
        except Exception as error:
            raise ExportError(
                f"graph '{graph.name}': cell {cells} has no ONNX operator and its step could not be exported as an "
                f"ONNX Loop ({type(error).__name__}: {str(error).splitlines()[0][:200]}); use --format torch"
            ) from None
    program.save(str(path))


def _write_onnx_native(graph: ExportGraph, path: Path, native_recurrent: Any) -> None:
    with _quiet(), native_recurrent(graph.module), torch.no_grad():
        torch.onnx.export(
            graph.module,
            tuple(graph.inputs.values()),
            str(path),
            dynamo=False,  # the TorchScript exporter: it honours autograd.Function.symbolic (native RNN nodes)
            input_names=list(graph.inputs),
            output_names=list(graph.outputs),
            dynamic_axes=graph.dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    _name_outputs(path, graph.outputs)


def _name_outputs(path: Path, names: list[str]) -> None:
    """Give the graph's outputs *names*: the TorchScript exporter leaves an output that constant folding made an
    initializer (e.g. a CRF's transition scores, which depend on no input) under a number instead."""
    import onnx

    model = onnx.load(str(path))
    renamed = False
    for output, name in zip(model.graph.output, names):
        if output.name != name:
            model.graph.node.append(onnx.helper.make_node("Identity", [output.name], [name]))
            output.name = name
            renamed = True
    if renamed:
        onnx.save(model, str(path))


def _dynamic_shapes(graph: ExportGraph) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """torch.export's ``Dim`` per axis name, and the dynamic shapes nested as the module's forward takes them."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    shapes = []
    for name in graph.inputs:
        axes = graph.dynamic_axes.get(name, {})
        shapes.append({axis: dims.setdefault(label, Dim(label, min=1)) for axis, label in axes.items()} or None)
    # a `*rest` parameter of forward takes one tuple of shapes
    params = list(inspect.signature(graph.module.forward).parameters.values())
    star = next((i for i, p in enumerate(params) if p.kind is p.VAR_POSITIONAL), None)
    return dims, tuple(shapes) if star is None else (*shapes[:star], tuple(shapes[star:]))


def write_torch(graph: ExportGraph, path: Path) -> None:
    """*graph* as a ``torch.export`` program with the dynamic axes; its recurrent layers as loops over time."""
    from torch.export import export, save

    from seqkit.export.torch_rnn import looped_recurrent

    dims, nested = _dynamic_shapes(graph)
    # torch.export prints the graph it failed on to stderr: the one-line error below says what matters
    with _quiet(), torch.no_grad(), contextlib.redirect_stderr(io.StringIO()), looped_recurrent(graph.module):
        try:
            program = export(graph.module, tuple(graph.inputs.values()), dynamic_shapes=nested)
        except Exception as error:
            raise ExportError(
                f"graph '{graph.name}': torch.export cannot capture it with dynamic {', '.join(sorted(dims))} "
                f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); use --format onnx"
            ) from None
    save(program, str(path))


def _signature(graph: ExportGraph) -> dict[str, Any]:
    def describe(name: str, tensor: torch.Tensor | None) -> dict[str, Any]:
        axes = graph.dynamic_axes.get(name, {})
        entry: dict[str, Any] = {"name": name}
        if tensor is not None:
            entry["dtype"] = str(tensor.dtype).removeprefix("torch.")
            entry["shape"] = [axes.get(i, int(n)) for i, n in enumerate(tensor.shape)]
        return entry

    return {
        "name": graph.name,
        "description": graph.description,
        "inputs": [describe(n, t) for n, t in graph.inputs.items()],
        "outputs": [describe(n, None) for n in graph.outputs],
    }


def _write_graph(graph: ExportGraph, out: Path, fmt: str) -> dict[str, Any]:
    graph.module.eval()
    file = f"{graph.name}.onnx" if fmt == "onnx" else f"{graph.name}.pt2"
    (write_onnx if fmt == "onnx" else write_torch)(graph, out / file)
    entry = {**_signature(graph), "file": file}
    if fmt == "onnx":
        import onnx

        model = onnx.load(str(out / file), load_external_data=False)
        entry["opset"] = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        entry["operators"] = sorted({n.op_type for n in model.graph.node} & {"GRU", "LSTM", "RNN", "Loop"})
    return entry


def write_bundle(parts: Any, checkpoint: Path, out: Path, fmt: str) -> dict[str, Any]:
    """Export the checkpoint's rebuilt *parts* to folder *out* (new or empty); returns the manifest."""
    if fmt not in FORMATS:
        raise SeqkitError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SeqkitError(f"--out {out}: exists and is not an empty folder; choose a new one")
    recipe = parts.recipe.data
    model = parts.module.model.eval()
    graphs = parts.task.export_graphs(model)
    tokenizer = None
    if parts.tokenizer is not None:
        section = dict(recipe.get("tokenizer") or {})
        tokenizer = plain(
            {"kind": section.pop("kind", None), "options": section, **parts.tokenizer.state_dict()},
            "the tokenizer's state",
        )
    task_section = dict(recipe["task"])
    task = plain({"kind": task_section.pop("kind"), "options": task_section, **parts.task.state_dict()}, "task state")
    from seqkit.versions import plugin_versions

    # ASCII-escaped: a vocabulary or label may hold a lone surrogate (a byte that was not UTF-8, kept by
    # surrogateescape), which UTF-8 cannot encode; json.loads gives it back as it was
    texts = {"task.json": json.dumps(task, ensure_ascii=True, indent=1)}
    if tokenizer is not None:
        texts["tokenizer.json"] = json.dumps(tokenizer, ensure_ascii=True)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        entries = [_write_graph(graph, out, fmt) for graph in graphs]
        manifest = {
            "seqkit_bundle": BUNDLE_VERSION,
            "format": fmt,
            "task": task["kind"],
            "checkpoint": checkpoint.name,
            "seqkit": _version(),
            "torch": torch.__version__,
            "plugins": [{"name": n, "distribution": d, "version": v} for n, d, v in plugin_versions()],
            "graphs": entries,
            "tokenizer": "tokenizer.json" if tokenizer is not None else None,
            "task_file": "task.json",
        }
        texts["manifest.json"] = json.dumps(manifest, indent=1, ensure_ascii=True)
        for name, text in texts.items():
            (out / name).write_text(text, encoding="utf-8")
    except BaseException:
        # a failed export leaves nothing behind that looks like a bundle
        for path in out.iterdir():
            path.unlink()
        if created:
            out.rmdir()
        raise
    return manifest


def _version() -> str:
    import seqkit

    return seqkit.__version__
